"""Accounts: people who sign in, their roles, schools, access tokens and installation secrets."""
