import pytest
from hypothesis import given
from hypothesis import strategies as st

from hpe_ros.io.input_loss import SequenceGaps


def test_gaps_in_the_publishers_numbers_are_counted_as_lost() -> None:
    gaps = SequenceGaps()
    assert [gaps.observe(n) for n in (1, 2, 5, 6, 10)] == [0, 0, 2, 0, 3]
    assert (gaps.arrived, gaps.lost) == (5, 5)
    assert gaps.describe() == "5 of 10 (50.0 %)"


def test_a_restarted_publisher_and_unnumbered_or_shared_topics_are_not_guessed() -> None:
    gaps = SequenceGaps()
    gaps.observe(40)
    assert gaps.observe(1) == 0 and gaps.restarts == 1  # numbers went back: a new publisher
    assert gaps.observe(3) == 1
    assert gaps.observe_info({"publication_sequence_number": 0}) == 0  # the rmw does not number
    assert gaps.observe(9, publishers=2) == 0  # two publishers interleave their numbers
    assert gaps.lost == 1 and gaps.unnumbered == 2
    only_unnumbered = SequenceGaps()
    only_unnumbered.observe(None)
    assert not only_unnumbered.counted and "not counted" in only_unnumbered.describe()


@pytest.mark.fuzz
@given(st.lists(st.integers(min_value=1, max_value=10_000), min_size=1, max_size=200, unique=True))
def test_arrived_plus_lost_spans_the_numbers_seen_for_any_increasing_sequence(numbers: list[int]) -> None:
    numbers.sort()
    gaps = SequenceGaps()
    for number in numbers:
        assert gaps.observe(number) >= 0
    assert gaps.arrived + gaps.lost == numbers[-1] - numbers[0] + 1
