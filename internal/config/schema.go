package config

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// keys is the schema of one YAML mapping: each known key, with the schema
// of its value when that value is (or may be) a mapping, nil for scalars
// and lists.
type keys map[string]keys

var (
	logKeys = keys{"level": nil, "format": nil}

	daemonKeys = keys{
		"state_dir":        nil,
		"metrics_listen":   nil,
		"timezone":         nil,
		"max_concurrent":   nil,
		"shutdown_timeout": nil,
		"log":              logKeys,
		"control_socket":   nil,
	}

	trafficKeys   = keys{"sample": nil, "max_records_per_second": nil, "max_bytes_per_second": nil}
	diskKeys      = keys{"reserve": nil, "factor": nil}
	retentionKeys = keys{"max_age": nil, "max_records": nil, "max_total_bytes": nil, "size_basis": nil}
	archiveKeys   = keys{
		"dir": nil, "compress": nil, "max_age": nil,
		"url": nil, "endpoint": nil, "region": nil, "path_style": nil, "tls_verify": nil, "ca_file": nil,
		"credentials_file": nil, "profile": nil, "sse": nil, "kms_key_id": nil, "part_size": nil,
		"object_lock": keys{"mode": nil, "retain_until": nil, "retain_for": nil, "legal_hold": nil},
	}
	rotationKeys = keys{"max_files": nil, "naming": nil}
	redisKeys    = keys{"url": nil, "prefix": nil, "system_id": nil, "password_file": nil}

	// defaultsKeys are the keys a store inherits: allowed in the defaults
	// section and in every store.
	defaultsKeys = keys{
		"schedule":               nil,
		"windows":                nil,
		"max_deferral":           nil,
		"jitter":                 nil,
		"min_interval":           nil,
		"traffic":                trafficKeys,
		"disk":                   diskKeys,
		"retention":              retentionKeys,
		"archive":                archiveKeys,
		"quarantine_dir":         nil,
		"partial_line_grace":     nil,
		"drain_timeout":          nil,
		"consumer_groups":        nil,
		"consumer_group_max_age": nil,
		"age_basis":              nil,
		"trim_step":              nil,
	}

	// storeOnlyKeys can only be set per store.
	storeOnlyKeys = keys{
		"name":     nil,
		"backend":  nil,
		"path":     nil,
		"rotation": rotationKeys,
		// allow_hard_links is per store: an operator opts in for the store they linked.
		"allow_hard_links": nil,
		// missing_ok is per store too: which stores may be absent is the operator's call.
		"missing_ok": nil,
		"redis":      redisKeys,
	}

	storeKeys = func() keys {
		k := maps.Clone(defaultsKeys)
		maps.Copy(k, storeOnlyKeys)
		return k
	}()

	// rootKeys leaves stores out: it is a list, checked item by item.
	rootKeys = keys{"daemon": daemonKeys, "defaults": defaultsKeys, "stores": nil}
)

// checkKeys reports every key of the document that is not in the schema,
// with its full path and, where one is plausible, the key that was meant.
func (p *problems) checkKeys(root map[string]any) {
	p.checkMap(root, rootKeys, field{})
	if list, ok := root["stores"].([]any); ok {
		for i, item := range list {
			if m, ok := asMap(item); ok {
				p.checkMap(m, storeKeys, storeField(i, m))
			}
		}
	}
}

// checkMap checks m against schema, descending into nested mappings.
func (p *problems) checkMap(m map[string]any, schema keys, f field) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		sub, known := schema[k]
		if !known {
			p.addKey(f, k, "unknown key %q%s", k, hint(k, schema, f))
			continue
		}
		if child, ok := asMap(m[k]); ok && sub != nil {
			p.checkMap(child, sub, f.key(k))
		}
	}
}

// hint suggests what an unknown key k in a mapping with the given schema
// was meant to be: a near spelling, the same key one level down
// ("max_age" → "retention.max_age"), or a key that belongs elsewhere.
func hint(k string, schema keys, f field) string {
	if s := suggest(k, slices.Sorted(maps.Keys(schema))); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	var nested []string
	for _, parent := range slices.Sorted(maps.Keys(schema)) {
		if _, ok := schema[parent][k]; ok {
			nested = append(nested, parent+"."+k)
		}
	}
	if len(nested) > 0 {
		return fmt.Sprintf(" (did you mean %s?)", strings.Join(quoteAll(nested), " or "))
	}
	if len(f.path) == 1 && f.path[0] == "defaults" {
		if _, ok := storeOnlyKeys[k]; ok {
			return " (" + k + " can only be set per store)"
		}
	}
	if len(f.path) == 0 {
		if _, ok := daemonKeys[k]; ok {
			return fmt.Sprintf(" (did you mean %q?)", "daemon."+k)
		}
		if _, ok := storeKeys[k]; ok {
			return " (store settings go in a store under stores, or in defaults)"
		}
	}
	return ""
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = fmt.Sprintf("%q", x)
	}
	sort.Strings(out)
	return out
}

// asMap returns v as a string-keyed map if it is a YAML mapping.
func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[fmt.Sprint(k)] = v
		}
		return out, true
	}
	return nil, false
}
