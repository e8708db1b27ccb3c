"""Names people read for school stages (学段): codes are stored, labels translated where shown."""

from core.i18n import N_

# Stored codes and their names; the Chinese catalogue gives the names as schools use them.
STAGE_LABELS = {
    "kindergarten": N_("Kindergarten"),
    "primary": N_("Primary school"),
    "junior": N_("Junior secondary school"),
    "senior": N_("Senior secondary school"),
    "nine_year": N_("Nine-year school (primary and junior)"),
    "twelve_year": N_("Twelve-year school"),
    "complete": N_("Complete secondary school (junior and senior)"),
    "vocational": N_("Vocational school"),
    "special": N_("Special education school"),
}

# What an import file may say in its stage column, besides the code itself: the usual Chinese
# names (as 教育局 lists write them) and the English names.
STAGE_ALIASES = {
    "幼儿园": "kindergarten",
    "小学": "primary",
    "初中": "junior",
    "初级中学": "junior",
    "高中": "senior",
    "高级中学": "senior",
    "九年一贯": "nine_year",
    "九年一贯制": "nine_year",
    "九年一贯制学校": "nine_year",
    "十二年一贯": "twelve_year",
    "十二年一贯制": "twelve_year",
    "完全中学": "complete",
    "完中": "complete",
    "中职": "vocational",
    "职业学校": "vocational",
    "中等职业学校": "vocational",
    "特殊教育": "special",
    "特殊教育学校": "special",
    "特教": "special",
    **{label.lower(): code for code, label in STAGE_LABELS.items()},
}

# The names the Chinese interface shows, for an error that lists what a file may use.
STAGE_NAMES_ZH = (
    "幼儿园",
    "小学",
    "初中",
    "高中",
    "九年一贯制",
    "十二年一贯制",
    "完全中学",
    "中职",
    "特殊教育",
)


def stage_code(text: str) -> str | None:
    """The stage code for what a file or form says, or None when it names no stage we know."""
    cleaned = text.strip()
    if cleaned in STAGE_LABELS:
        return cleaned
    return STAGE_ALIASES.get(cleaned) or STAGE_ALIASES.get(cleaned.lower())
