"""VoxQueue's errors cross a process boundary (a batch is accepted in a process pool of its own,
api/accepting.py) as pickles: each comes back the same, with what its HTTP answer needs (the answer itself:
tests/api/test_careless_input.py)."""

import pickle

from shared.errors import BadInput, BadLine


def test_a_bad_line_comes_back_from_a_pickle_with_its_number() -> None:
    error = pickle.loads(pickle.dumps(BadLine("line 7 holds only invisible characters (U+200B)", 7)))

    assert type(error) is BadLine and isinstance(error, BadInput)
    assert (str(error), error.line) == ("line 7 holds only invisible characters (U+200B)", 7)
