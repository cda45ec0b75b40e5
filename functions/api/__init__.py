"""HTTP adapters of the API: Powertools routers that parse requests and call one service."""
