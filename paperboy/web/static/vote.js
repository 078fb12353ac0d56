// Upvote without reloading the page: send the same form the button belongs to, ask for JSON, update the count.
// Without JavaScript the form posts normally and the server redirects back.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.classList.contains("vote-form")) return;
  event.preventDefault();
  const button = form.querySelector(".vote-button");
  const voteField = form.querySelector('input[name="vote"]');
  button.disabled = true;
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      if (response.status === 401) { form.submit(); return; }
      window.alert(data.error || "The vote did not go through. Please try again.");
      return;
    }
    form.querySelector(".votes-count").textContent = String(data.upvotes);
    button.setAttribute("aria-pressed", data.voted ? "true" : "false");
    button.title = data.voted ? "Take back your upvote" : "Upvote";
    voteField.value = data.voted ? "0" : "1";
    const hidden = button.querySelector(".visually-hidden");
    if (hidden) hidden.textContent = data.voted ? "upvotes, you upvoted" : "upvotes";
  } finally {
    button.disabled = false;
  }
});
