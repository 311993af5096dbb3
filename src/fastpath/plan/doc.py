"""YAML documents that remember where each value came from.

``load_doc(path)`` parses a YAML file into plain Python data (dict, list, str, int, float,
bool, None) plus a table of line numbers by key path, so that validation errors can say
``plan.yaml:12: key 'swprofiles[1].kernel': file not found``. Duplicate keys are errors.
"""

from __future__ import annotations

import dataclasses
import pathlib

import yaml

from fastpath.errors import PlanError

Path = tuple  # key path: ("swprofiles", 1, "kernel")


def path_str(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclasses.dataclass
class Doc:
    file: str
    data: object
    lines: dict

    def line(self, path: Path) -> int | None:
        """Line of the value at path, or of its nearest parent that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())

    def error(self, path: Path, message: str) -> PlanError:
        return PlanError(message, file=self.file, key=path_str(path) or None,
                         line=self.line(path))


def _plain(node: yaml.Node, path: Path, lines: dict, ctor: yaml.SafeLoader, file: str):
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict = {}
        for key_node, value_node in node.value:
            key = ctor.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int)):
                raise PlanError("mapping keys must be strings", file=file,
                                key=path_str(path) or None, line=key_node.start_mark.line + 1)
            if key in out:
                raise PlanError("duplicate key", file=file, key=path_str(path + (key,)),
                                line=key_node.start_mark.line + 1)
            out[key] = _plain(value_node, path + (key,), lines, ctor, file)
            lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, path + (i,), lines, ctor, file) for i, item in enumerate(node.value)]
    return ctor.construct_object(node, deep=True)


def load_doc(file: str | pathlib.Path) -> Doc:
    """Parse a YAML file; PlanError (file, line) when it is missing or malformed."""
    file = str(file)
    try:
        text = pathlib.Path(file).read_text()
    except FileNotFoundError:
        raise PlanError("file not found", file=file) from None
    except (OSError, UnicodeDecodeError) as err:
        raise PlanError(f"cannot read: {getattr(err, 'strerror', None) or err}",
                        file=file) from None
    return parse_doc(text, file)


def parse_doc(text: str, file: str = "<string>") -> Doc:
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            lines: dict = {}
            data = _plain(node, (), lines, loader, file) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        what = " ".join(x for x in (err.context, err.problem) if x)
        raise PlanError(f"malformed YAML: {what}", file=file,
                        line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as err:
        raise PlanError(f"malformed YAML: {err}", file=file) from None
    return Doc(file, data, lines)
