"""The read side's web app, in rooms by job: web (router, start-up, routes), access, ui."""
