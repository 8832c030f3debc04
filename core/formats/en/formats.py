"""Date and time formats in English: times to the second (Django's own stop at the minute)."""

# Offers last seconds and timers fire within them: "1:40 p.m." on an offer's creation, expiry
# and acceptance said nothing. One unambiguous shape in every language.
DATETIME_FORMAT = "Y-m-d H:i:s"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s"
TIME_FORMAT = "H:i:s"
