"""The SAX driver feedparser parses with (bot.feeds names it in PREFERRED_XML_PARSERS).

The standard library's expat reader, with two costs a hostile feed could otherwise run up in
feedparser's strict parser made linear:
- text is handed over once per run, not once per entity reference (a title of a million
  "&lt;" made a million calls into feedparser);
- an attribute is found by its qualified name through a dict: feedparser asks for every
  attribute by name, and the standard lookup walks them all, so one element with 100,000
  attributes cost 10**10 steps.
"""

from __future__ import annotations

from xml.sax.expatreader import ExpatParser
from xml.sax.xmlreader import AttributesNSImpl


class _Attributes(AttributesNSImpl):
    def __init__(self, attrs: dict, qnames: dict) -> None:
        super().__init__(attrs, qnames)
        self._by_qname = {qname: name for name, qname in qnames.items()}

    def getValueByQName(self, name):  # noqa: N802 (the SAX interface's name)
        return self._attrs[self._by_qname[name]]

    def getNameByQName(self, name):  # noqa: N802
        return self._by_qname[name]


class _Parser(ExpatParser):
    def reset(self) -> None:
        super().reset()
        self._parser.buffer_text = True
        self._parser.buffer_size = 1 << 16

    def start_element_ns(self, name: str, attrs: dict) -> None:
        # as ExpatParser.start_element_ns, with _Attributes
        pair = name.split()
        pair = (None, name) if len(pair) == 1 else (pair[0], pair[1])
        values = {}
        qnames = {}
        for aname, value in attrs.items():
            parts = aname.split()
            if len(parts) == 1:
                qname, apair = aname, (None, aname)
            elif len(parts) == 3:
                qname, apair = f"{parts[2]}:{parts[1]}", (parts[0], parts[1])
            else:
                qname, apair = parts[1], (parts[0], parts[1])
            values[apair] = value
            qnames[apair] = qname
        self._cont_handler.startElementNS(pair, None, _Attributes(values, qnames))


def create_parser(*args, **kwargs) -> _Parser:
    """What xml.sax.make_parser calls on a driver module."""
    return _Parser(*args, **kwargs)
