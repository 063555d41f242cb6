"""Component ids, defined once."""

LANG = "lang"
RANGE = "range"
REFRESH = "refresh"
OVERVIEW_KPIS = "overview-kpis"
OVERVIEW_STATUS = "overview-status"
OVERVIEW_TABLE = "overview-table"
OVERVIEW_MESSAGE = "overview-message"
