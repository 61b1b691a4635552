"""Text that XML 1.0 can carry. ElementTree writes any character it is given, so one control character
(or a lone surrogate, which cannot even be encoded) in one record makes a whole document unreadable —
every reader of a feed then sees nothing. Such characters are dropped, never escaped: XML 1.0 has no
escape for them."""

from __future__ import annotations

import re

# Everything outside XML 1.0's Char production (#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | …).
_ILLEGAL = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    return _ILLEGAL.sub("", value)
