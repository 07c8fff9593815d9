"""topic-tagger: tag Chinese AI-industry news paragraphs with topics."""

__version__ = "0.1.0"
