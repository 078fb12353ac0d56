"""The web surface: server-rendered pages, the JSON API and static files (see app.py for the route table)."""
