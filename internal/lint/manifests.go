package lint

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	sigsyaml "sigs.k8s.io/yaml"
)

// Document is one Kubernetes object of the input and where it was written.
type Document struct {
	// File is the path the document was read from, as given ("-" is read
	// as <stdin>).
	File string
	// Node is the document's root mapping; its lines count from the top of
	// File, so field paths map back to lines.
	Node *yaml.Node
	// GVK is the object's apiVersion and kind.
	GVK schema.GroupVersionKind
	// Object is the decoded object: a typed one when the scheme knows the
	// kind, unstructured otherwise.
	Object runtime.Object
	// Fields are the document's fields as written, in JSON's types: what
	// the API server decodes, unknown fields included.
	Fields map[string]any
}

// Stdin is the file name documents read from standard input carry.
const Stdin = "<stdin>"

// ReadPaths reads every document of the files, the directories' *.yaml,
// *.yml and *.json files (recursing when recursive), and standard input
// for "-". Documents without a kind (a kustomization.yaml, an empty
// document) are skipped; a file that does not parse is an error.
func ReadPaths(s *runtime.Scheme, paths []string, recursive bool, stdin io.Reader) ([]Document, error) {
	var docs []Document
	for _, p := range paths {
		if p == "-" {
			data, err := io.ReadAll(stdin)
			if err != nil {
				return nil, fmt.Errorf("reading standard input: %w", err)
			}
			more, err := Parse(s, Stdin, data)
			if err != nil {
				return nil, err
			}
			docs = append(docs, more...)
			continue
		}
		files, err := expand(p, recursive)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			more, err := Parse(s, f, data)
			if err != nil {
				return nil, err
			}
			docs = append(docs, more...)
		}
	}
	return docs, nil
}

// expand lists the manifest files a path names, in name order.
func expand(path string, recursive bool) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != path && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s holds no .yaml, .yml or .json file", path)
	}
	sort.Strings(files)
	return files, nil
}

// Parse splits data into documents and decodes each, typed when the
// scheme knows its kind. Lists (kind: List) are not unwrapped.
func Parse(s *runtime.Scheme, file string, data []byte) ([]Document, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []Document
	for {
		var root yaml.Node
		err := dec.Decode(&root)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
			continue
		}
		node := root.Content[0]
		doc, err := decode(s, file, node)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, node.Line, err)
		}
		if doc != nil {
			docs = append(docs, *doc)
		}
	}
}

// decode turns one document into an object the way kubectl would: YAML to
// JSON, then JSON into the Go type.
func decode(s *runtime.Scheme, file string, node *yaml.Node) (*Document, error) {
	text, err := yaml.Marshal(node)
	if err != nil {
		return nil, err
	}
	js, err := sigsyaml.YAMLToJSON(text)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		if runtime.IsMissingKind(err) {
			return nil, nil // not a Kubernetes object: a kustomization, values
		}
		return nil, err
	}
	gvk := u.GroupVersionKind()
	doc := &Document{File: file, Node: node, GVK: gvk, Object: u, Fields: runtime.DeepCopyJSON(u.Object)}
	if !s.Recognizes(gvk) {
		return doc, nil
	}
	typed, err := s.New(gvk)
	if err != nil {
		return nil, err
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, typed); err != nil {
		return nil, fmt.Errorf("%s %s: %w", gvk.Kind, u.GetName(), err)
	}
	typed.GetObjectKind().SetGroupVersionKind(gvk)
	doc.Object = typed
	return doc, nil
}
