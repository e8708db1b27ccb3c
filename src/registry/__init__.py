"""Registry: the science association's accreditation of bases, threshold profiles and base imports."""
