"""Signed visit passes (Ed25519 QR tokens) and short typed fallback codes."""

from __future__ import annotations

import base64
import datetime
import functools
import re
import secrets
import struct
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

import nacl.exceptions
import nacl.signing

__all__ = [
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "PASS_PREFIX",
    "PassClaims",
    "SigningKey",
    "format_code",
    "generate_signing_key",
    "issue_pass",
    "new_pass_code",
    "normalize_code",
    "pass_kid",
    "verify_pass",
]

PASS_VERSION = 1
# The signature covers this tag as well as the payload, so a future "KP2." format cannot be confused with v1.
_SIGNED_TAG = b"KP1"
PASS_PREFIX = "KP1."

# version, kid, booking_id, venue_id, day. Fixed width keeps token length (and so QR version) constant.
_PAYLOAD = struct.Struct(">BHIIH")
_SIGNATURE_LEN = 64
_RAW_LEN = _PAYLOAD.size + _SIGNATURE_LEN
# Length of the unpadded base32 body; anything else is rejected before decoding.
_BODY_LEN = -(-_RAW_LEN * 8 // 5)
_BODY_RE = re.compile(r"[A-Z2-7]+")
# RFC 4648 base32 digits spelled as Python's int(…, 32) digits, to decode a body in one C call.
_B32_AS_INT_DIGITS = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789abcdefghijklmnopqrstuv")
_SPARE_BITS = _BODY_LEN * 5 - _RAW_LEN * 8  # the last character's bits that carry no data

_DAY_EPOCH = datetime.date(2000, 1, 1)
_U16_MAX = 0xFFFF
_U32_MAX = 0xFFFF_FFFF
_KEY_LEN = 32


@dataclass(frozen=True)
class PassClaims:
    """What a pass asserts; ``day`` is the Asia/Shanghai date the slot starts."""

    booking_id: int
    venue_id: int
    day: datetime.date

    def __post_init__(self) -> None:
        # Validate here so an unencodable pass fails at construction, not halfway through issuing.
        # bool is an int subclass but never a meaningful id.
        for name in ("booking_id", "venue_id"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be an int")
        if not 0 <= self.booking_id <= _U32_MAX:
            raise ValueError(f"booking_id out of range for a pass: {self.booking_id}")
        if not 0 <= self.venue_id <= _U32_MAX:
            raise ValueError(f"venue_id out of range for a pass: {self.venue_id}")
        # datetime is a date subclass; accepting one would silently drop the time and its zone.
        if type(self.day) is not datetime.date:
            raise ValueError("day must be a datetime.date (the Asia/Shanghai date), not a datetime")
        if not 0 <= (self.day - _DAY_EPOCH).days <= _U16_MAX:
            raise ValueError(f"day out of range for a pass: {self.day}")


@dataclass(frozen=True)
class SigningKey:
    """Raw 32-byte Ed25519 key pair; ``private_key`` is None on verify-only hosts."""

    kid: int
    # repr=False so the secret never lands in logs or tracebacks.
    private_key: bytes | None = field(repr=False)
    public_key: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.kid <= _U16_MAX:
            raise ValueError(f"kid must fit in 16 bits: {self.kid}")
        if len(self.public_key) != _KEY_LEN:
            raise ValueError("public_key must be 32 raw bytes")
        if self.private_key is not None and len(self.private_key) != _KEY_LEN:
            raise ValueError("private_key must be 32 raw bytes")


# Ed25519 through libsodium (PyNaCl): a pass verifies in about 60 µs there, against 130 µs through
# cryptography's OpenSSL binding on the same machine, and every door scan verifies one (bench/RESULTS.md,
# session 7). The keys are the same 32 raw bytes (RFC 8032's seed and public key) and the signatures
# the same 64, so passes signed by either library verify with the other (tests/bookings/test_tickets.py).


def generate_signing_key(kid: int) -> SigningKey:
    """Create a fresh Ed25519 key pair tagged with ``kid``."""
    private = nacl.signing.SigningKey.generate()
    return SigningKey(kid=kid, private_key=bytes(private), public_key=bytes(private.verify_key))


@functools.lru_cache(maxsize=8)
def _private(raw: bytes) -> nacl.signing.SigningKey:
    """The key object of a private key's bytes, made once (a pass is signed for every booking)."""
    return nacl.signing.SigningKey(raw)


@functools.lru_cache(maxsize=16)
def _public(raw: bytes) -> nacl.signing.VerifyKey:
    """The key object of a public key's bytes, made once (every scan verifies a pass)."""
    return nacl.signing.VerifyKey(raw)


def issue_pass(claims: PassClaims, key: SigningKey) -> str:
    """Return a ``KP1.`` token: base32 of the packed claims followed by their Ed25519 signature."""
    if key.private_key is None:
        raise ValueError(f"signing key {key.kid} has no private half")
    payload = _PAYLOAD.pack(
        PASS_VERSION, key.kid, claims.booking_id, claims.venue_id, (claims.day - _DAY_EPOCH).days
    )
    signature = _private(key.private_key).sign(_SIGNED_TAG + payload).signature
    # Upper-case base32 plus "KP1." stays inside the QR alphanumeric set, which packs denser than byte mode.
    body = base64.b32encode(payload + signature).decode("ascii").rstrip("=")
    return PASS_PREFIX + body


def _split(token: str) -> tuple[bytes, bytes] | None:
    """Decode a token into (payload, signature) without checking the signature."""
    if not isinstance(token, str):
        return None
    return _split_text(token)


@functools.lru_cache(maxsize=64)  # a scan reads its token's key id, then verifies it: one decoding
def _split_text(token: str) -> tuple[bytes, bytes] | None:
    # Only ASCII may be upper-cased: str.upper() turns e.g. "ß" into "SS" and would widen what we accept.
    text = token.strip()
    if not text.isascii():
        return None
    text = text.upper()
    if not text.startswith(PASS_PREFIX):
        return None
    body = text[len(PASS_PREFIX) :]
    if len(body) != _BODY_LEN or not _BODY_RE.fullmatch(body):
        return None
    # The body as one big number, its spare low bits dropped. They must be zero: base32 decoders
    # ignore them, so accepting any other spelling would let an altered character still admit.
    number = int(body.translate(_B32_AS_INT_DIGITS), 32)
    if number & ((1 << _SPARE_BITS) - 1):
        return None
    raw = (number >> _SPARE_BITS).to_bytes(_RAW_LEN, "big")  # fits: the body's length is fixed
    payload, signature = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
    if payload[0] != PASS_VERSION:
        return None
    return payload, signature


def pass_kid(token: str) -> int | None:
    """Key id a well-formed token claims to be signed with (unverified; for diagnostics only)."""
    parts = _split(token)
    if parts is None:
        return None
    kid: int = _PAYLOAD.unpack(parts[0])[1]
    return kid


def verify_pass(token: str, public_keys: Mapping[int, bytes]) -> PassClaims | None:
    """Claims of a genuine pass signed by one of ``public_keys`` (kid -> raw key), else None.

    Malformed keys in ``public_keys`` raise ValueError: that is a configuration error, not bad input.
    """
    parts = _split(token)
    if parts is None:
        return None
    payload, signature = parts
    _version, kid, booking_id, venue_id, days = _PAYLOAD.unpack(payload)
    raw_key = public_keys.get(kid)
    if raw_key is None:
        return None
    try:
        _public(raw_key).verify(_SIGNED_TAG + payload, signature)
    except nacl.exceptions.BadSignatureError:
        return None
    return PassClaims(
        booking_id=booking_id, venue_id=venue_id, day=_DAY_EPOCH + datetime.timedelta(days=days)
    )


# Typed fallback codes for when a QR cannot be scanned.
# No i/l/o/0/1, so nothing a visitor reads off a screen or paper is ambiguous.
CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
CODE_LENGTH = 8
_CODE_CHARS = frozenset(CODE_ALPHABET)
# Separators people type between the two halves, including the dashes Chinese IMEs emit for "-".
_CODE_SEPARATORS = frozenset(
    "-\N{HYPHEN}\N{NON-BREAKING HYPHEN}\N{FIGURE DASH}\N{EN DASH}\N{EM DASH}\N{HORIZONTAL BAR}\N{MINUS SIGN}"
)


def new_pass_code() -> str:
    """Random 8-character code (~39.6 bits) from CODE_ALPHABET."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    """Display form ``abcd-efgh``."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def normalize_code(text: str) -> str | None:
    """Canonical code from what a person typed, or None if it cannot be one."""
    # NFKC folds the full-width letters, digits and dashes a Chinese IME may produce to ASCII.
    folded = unicodedata.normalize("NFKC", text).lower()
    code = "".join(ch for ch in folded if not ch.isspace() and ch not in _CODE_SEPARATORS)
    if len(code) != CODE_LENGTH or not set(code) <= _CODE_CHARS:
        return None
    return code
