"""Discord helpers that more than one cog uses (not an extension: nothing here is loaded).

Cogs never import each other: whatever two of them share lives here.
"""
