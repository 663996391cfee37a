package lint

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// pathSegments splits a field path as field.Path prints it
// ("spec.migration.scripts[0].sql", "metadata.annotations[a.b/c]") into
// map keys and list indexes; an index is a segment in brackets.
func pathSegments(path string) []segment {
	var segs []segment
	for path != "" {
		switch path[0] {
		case '.':
			path = path[1:]
		case '[':
			end := strings.IndexByte(path, ']')
			if end < 0 {
				return segs
			}
			inner := path[1:end]
			if n, err := strconv.Atoi(inner); err == nil {
				segs = append(segs, segment{index: n, isIndex: true})
			} else {
				segs = append(segs, segment{key: inner})
			}
			path = path[end+1:]
		default:
			end := strings.IndexAny(path, ".[")
			if end < 0 {
				end = len(path)
			}
			segs = append(segs, segment{key: path[:end]})
			path = path[end:]
		}
	}
	return segs
}

type segment struct {
	key     string
	index   int
	isIndex bool
}

// walk follows path from node as far as the document has it and returns
// the line of the deepest key or list item reached and the value there
// (nil when the whole path is not in the document).
func walk(node *yaml.Node, path string) (int, *yaml.Node) {
	line := node.Line
	for _, seg := range pathSegments(path) {
		next, at := child(node, seg)
		if next == nil {
			return line, nil
		}
		node, line = next, at
	}
	return line, node
}

func child(node *yaml.Node, seg segment) (*yaml.Node, int) {
	switch {
	case seg.isIndex && node.Kind == yaml.SequenceNode:
		if seg.index < len(node.Content) {
			return node.Content[seg.index], node.Content[seg.index].Line
		}
	case !seg.isIndex && node.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			if node.Content[i].Value == seg.key {
				return node.Content[i+1], node.Content[i].Line
			}
		}
	}
	return nil, 0
}

// lineOf is the line of the field in the document, or of the nearest
// enclosing field the document has (a required field that is missing
// points at its parent).
func lineOf(node *yaml.Node, path string) int {
	line, _ := walk(node, path)
	return line
}

// nodeAt is the value at path, nil when the document lacks it.
func nodeAt(node *yaml.Node, path string) *yaml.Node {
	_, n := walk(node, path)
	return n
}

// textStart is where the text of a string value starts in the file: the
// line after the `|` or `>` of a block scalar, the value's own line
// otherwise.
func textStart(file string, n *yaml.Node) *Location {
	if n == nil || n.Kind != yaml.ScalarNode {
		return nil
	}
	line := n.Line
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		line++
	}
	return &Location{File: file, Line: line}
}
