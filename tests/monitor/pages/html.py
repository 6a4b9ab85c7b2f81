"""A parsed page as a flat list of elements, to assert on what a browser would see.

The standard library's HTML parser decodes entities the way a browser
does, so an attribute or text read here is what the page shows, and a
``<script>`` that reached the page unescaped shows up as an element.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

_VOID = frozenset({"meta", "br", "hr", "img", "input", "link"})


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[Element] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def find(self, tag: str, *classes: str, **attrs: str) -> list[Element]:
        """Descendants with this tag, every one of ``classes`` and these attribute values."""
        return [
            element
            for element in self.children
            if element.tag == tag
            and set(classes) <= element.classes
            and all(element.attrs.get(name.replace("_", "-")) == v for name, v in attrs.items())
        ]

    def words(self) -> str:
        return " ".join(self.text.split())


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self._open: list[Element] = [self.root]

    def _add(self, tag: str, attrs: list[tuple[str, str | None]]) -> Element:
        element = Element(tag, {name: value or "" for name, value in attrs})
        for ancestor in self._open:
            ancestor.children.append(element)
        return element

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = self._add(tag, attrs)
        if tag not in _VOID:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, 0, -1):
            if self._open[index].tag == tag:
                del self._open[index:]
                return

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data


def parse(html: str) -> Element:
    """The document; ``find`` on it searches every element of the page."""
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector.root
