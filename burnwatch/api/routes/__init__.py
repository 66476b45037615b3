"""Route modules: each defines ``router`` and names the allowed roles on every route."""
