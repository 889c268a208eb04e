"""A stand-in for the platform and its terminals: signed requests, checked answers, load."""
