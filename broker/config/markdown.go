package config

import (
	"strings"
)

// MarkdownTable renders the README's configuration tables (broker keys, then
// topic keys) from the key table.
func MarkdownTable() string {
	var b strings.Builder
	keys := Keys()
	for _, scope := range []Scope{ScopeBroker, ScopeTopic} {
		if scope == ScopeBroker {
			b.WriteString("### Broker configuration (server.properties, --override)\n\n")
			b.WriteString("| Key | Type | Default | Valid values | Dynamic in Kafka | Description |\n")
		} else {
			b.WriteString("\n### Topic configuration (CreateTopics, AlterConfigs, IncrementalAlterConfigs)\n\n")
			b.WriteString("| Key | Type | Default | Valid values | Broker default from | Description |\n")
		}
		b.WriteString("| --- | --- | --- | --- | --- | --- |\n")
		for _, k := range keys {
			if k.Scope != scope {
				continue
			}
			def := "(unset)"
			if k.HasDefault {
				def = "`" + k.Default + "`"
				if k.Default == "" {
					def = `""`
				}
			}
			fifth := "no"
			if scope == ScopeBroker && k.Dynamic {
				fifth = "yes"
			}
			if scope == ScopeTopic {
				fifth = strings.Join(k.Synonyms, ", ")
			}
			name := "`" + k.Name + "`"
			if !k.Kafka {
				name += " (not Kafka)"
			}
			cells := []string{name, k.Type.String(), def, k.Valid, fifth, k.Doc}
			for i := range cells {
				cells[i] = strings.ReplaceAll(cells[i], "|", `\|`)
			}
			b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
		}
	}
	return b.String()
}
