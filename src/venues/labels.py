"""Names people read for venue kinds, slot kinds and districts (translated where shown)."""

from core.i18n import N_

KIND_LABELS = {
    "science_museum": N_("Science museum"),
    "museum": N_("Museum"),
    "education_base": N_("Science education base"),
    "laboratory": N_("Laboratory / research institute"),
    "scientist_spirit_base": N_("Scientist-spirit education base"),
    "community_site": N_("Community science site"),
}
SLOT_KIND_LABELS = {
    "school_visit": N_("School visit"),
    "lab_open_day": N_("Lab open day"),
    "activity": N_("Science activity"),
}
DISTRICT_LABELS = {
    "思明区": N_("Siming District"),
    "湖里区": N_("Huli District"),
    "集美区": N_("Jimei District"),
    "海沧区": N_("Haicang District"),
    "同安区": N_("Tong'an District"),
    "翔安区": N_("Xiang'an District"),
}
STAFF_ROLE_LABELS = {"door": N_("Door staff"), "supervisor": N_("Supervisor")}
GRADE_BAND_LABELS = {
    "preschool": N_("Pre-school"),
    "primary_low": N_("Primary, grades 1–3"),
    "primary_high": N_("Primary, grades 4–6"),
    "junior": N_("Junior secondary"),
    "senior": N_("Senior secondary"),
}
APPROVAL_LABELS = {
    "auto": N_("Confirm bookings at once"),
    "request": N_("Staff approve each booking"),
}
