"""Bookings: class visits, signed passes, QR codes, calendar files and check-in at the door."""
