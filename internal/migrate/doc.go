package migrate

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// document builds the gatehouse YAML: keys in the order they are first
// set, each with the comment lines that say where it came from.
type document struct {
	root *yaml.Node
	err  error // the first value that could not be encoded
}

func newDocument() *document {
	return &document{root: &yaml.Node{Kind: yaml.MappingNode}}
}

// set puts value at the dotted path (oidc.issuer_url), with comment
// lines above its key.
func (d *document) set(path string, value any, comment ...string) {
	m := d.root
	keys := strings.Split(path, ".")
	for i, k := range keys {
		var child *yaml.Node
		for j := 0; j+1 < len(m.Content); j += 2 {
			if m.Content[j].Value == k {
				child = m.Content[j+1]
				if i == len(keys)-1 {
					m.Content[j].HeadComment = joinComment(m.Content[j].HeadComment, comment)
				}
			}
		}
		if child == nil {
			key := &yaml.Node{Kind: yaml.ScalarNode, Value: k}
			child = &yaml.Node{Kind: yaml.MappingNode}
			if i == len(keys)-1 {
				key.HeadComment = joinComment("", comment)
			}
			m.Content = append(m.Content, key, child)
		}
		if i == len(keys)-1 {
			if err := child.Encode(value); err != nil && d.err == nil {
				d.err = fmt.Errorf("encoding %s: %w", path, err)
			}
			if child.Kind == yaml.SequenceNode && len(child.Content) > 0 && child.Content[0].Kind == yaml.ScalarNode {
				child.Style = yaml.FlowStyle
			}
		}
		m = child
	}
}

func joinComment(prev string, lines []string) string {
	var b strings.Builder
	b.WriteString(prev)
	for _, l := range lines {
		for _, part := range strings.Split(l, "\n") {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString("# " + part)
		}
	}
	return b.String()
}

// render writes the document under the head comment lines.
func (d *document) render(head []string) ([]byte, error) {
	if d.err != nil {
		return nil, d.err
	}
	var b bytes.Buffer
	for _, l := range head {
		if l == "" {
			b.WriteString("#\n")
			continue
		}
		b.WriteString("# " + l + "\n")
	}
	if len(d.root.Content) == 0 {
		return b.Bytes(), nil
	}
	b.WriteString("\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(d.root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
