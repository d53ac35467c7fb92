"""What the keyword corpus says: the keywords, the other words of its `_unknown_` class,
and the words of its background babble. A module of its own because the corpus plan
(melflow.data.kws) and the renderer (melflow.data.kws_render) both read it, and the
renderer's fingerprint covers it: other babble words make other clips."""

KEYWORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]

# The other Speech Commands v2 words, plus a few more everyday words.
UNKNOWN_WORDS = [
    "bed", "bird", "cat", "dog", "eight", "five", "four", "happy", "house", "marvin", "nine",
    "one", "seven", "sheila", "six", "three", "tree", "two", "wow", "zero", "backward",
    "forward", "follow", "learn", "visual",
    "hello", "water", "light", "music", "open", "window", "morning", "number", "yellow", "table",
]
# Words for background babble: never a keyword, so that babble cannot carry a label.
BABBLE_WORDS = UNKNOWN_WORDS + [
    "the", "and", "we", "were", "there", "about", "people", "because", "little", "very",
    "today", "maybe", "really", "think", "know", "coffee", "later", "station", "weather",
]

