"""Errors whose message is meant for the person who asked."""


class UserError(Exception):
    """A mistake or a refusal to explain to the user in a short, ephemeral answer."""
