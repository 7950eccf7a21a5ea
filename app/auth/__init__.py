"""The auth service: accounts, passwords, access and refresh tokens, and the JWKS other services verify with."""
