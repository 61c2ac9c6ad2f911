"""JSON that a client wrote (a line of a JSONL script, a form field): read so that whatever it
holds is either a value VoxQueue can store or a ValueError saying what is wrong with it.

`json.loads` alone lets three kinds of careless input through as something other than a
JSONDecodeError: nesting deeper than the parser's recursion (RecursionError), an integer of
more digits than Python converts (a bare ValueError), and a \\u escape of half a surrogate pair
(\\ud800), which decodes to a string that is no Unicode and fails only when it is stored."""

import json
import sys
from typing import Any


def loads(raw: str) -> Any:
    """`raw` parsed; ValueError naming the problem in words a client can act on."""
    try:
        value = json.loads(raw)
        # Only an escape can make half a surrogate pair (`raw` is text decoded from UTF-8): the
        # value is written out again, where a lone surrogate fails, only when `raw` has one.
        if "\\u" in raw:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except json.JSONDecodeError as exc:
        raise ValueError(f"{exc.msg} at character {exc.pos + 1}") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except UnicodeEncodeError:
        raise ValueError("a \\u escape of half a surrogate pair (such as \\ud800), which is no character") from None
    except ValueError:  # int() refusing the digits: the only other ValueError of json.loads
        raise ValueError(f"a number of more than {sys.get_int_max_str_digits()} digits") from None
    return value
