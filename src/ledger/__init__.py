"""The check-in ledger: every scan and every correction, hash-chained per venue, with signed daily heads."""
