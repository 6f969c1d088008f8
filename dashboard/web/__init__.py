"""The web app around the pages: the router (gate and navigation), start-up, and the HTTP routes."""
