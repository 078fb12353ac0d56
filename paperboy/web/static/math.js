// Typeset LaTeX math with the vendored KaTeX. The server never emits HTML from TeX: it escapes everything and wraps
// the math of titles, abstracts and comments in <span class="math inline"> / <div class="math block"> (without the
// dollar signs), so those elements are typeset from their text. Search snippets keep the raw $...$ of the abstract
// and go through KaTeX's auto-render, which also reads only text nodes. trust: false keeps \href, \url,
// \includegraphics and \htmlClass & co. disabled; throwOnError: false shows bad TeX as text instead of failing.
(() => {
  const options = { throwOnError: false, trust: false, strict: "ignore" };
  const delimiters = [
    { left: "$$", right: "$$", display: true },
    { left: "$", right: "$", display: false },
  ];
  const run = () => {
    if (!window.katex) return;
    for (const element of document.querySelectorAll(".math")) {
      if (element.querySelector(".katex")) continue;
      const display = element.classList.contains("block") || element.tagName === "DIV"; // $$...$$
      window.katex.render(element.textContent.trim(), element, { ...options, displayMode: display });
    }
    if (!window.renderMathInElement) return;
    for (const element of document.querySelectorAll(".math-auto")) {
      window.renderMathInElement(element, { ...options, delimiters, ignoredClasses: ["math"] });
    }
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
  else run();
})();
