"""Text that came from a user or a provider, made safe for elements that render markdown (errors, captions...).

Streamlit's alerts, captions, titles and markdown render Markdown and its own directives (`:red[...]`,
`:material/icon:`, `$math$`): an unknown ticker typed as `[SIGN-IN](https://ev.il)` would become a link inside
the app's own alert, and `![](//host/p)` would make the browser fetch from a third party. `plain()` escapes
every ASCII punctuation character with a backslash (CommonMark allows exactly that, so the text shows as
typed) and folds line breaks, so no link, image, autolink, emphasis, HTML or directive can form.
"""

from __future__ import annotations

import string

_ESCAPE = {ord(ch): "\\" + ch for ch in string.punctuation}


def plain(value: object) -> str:
    """`value` as Markdown that renders as exactly its text (on one line)."""
    text = " ".join(str(value).split())
    return text.translate(_ESCAPE)
