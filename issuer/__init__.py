"""issuer: the Pith signing and issuance toolkit."""

__version__ = "0.1.0"
