package pyjson

import (
	"bytes"
	"testing"
)

// TestClassifierRemembersKeys checks that a Classifier matches the keys of a record it has
// seen, the registry_* keys that share their first 8 bytes among them, and nothing that
// merely starts like one.
func TestClassifierRemembersKeys(t *testing.T) {
	line := []byte(`{"kind": "audit", "system_id": "prod-eu-1", "timestamp": 1796081156.5, "registry_size": 40, "registry_orphans": [], "registry_dead": ["x"], "dead_letters_count": 3}`)
	var c Classifier
	c.Classify(line, false)
	for _, key := range []string{`"kind": `, `"system_id": `, `"timestamp": `, `"registry_size": `, `"registry_orphans": `, `"registry_dead": `, `"dead_letters_count": `} {
		i := bytes.Index(line, []byte(key))
		n, ts := c.keys.match(line, i)
		if n != len(key) || ts != (key == `"timestamp": `) {
			t.Errorf("%s: match = %d, %v; want %d, %v", key, n, ts, len(key), key == `"timestamp": `)
		}
	}
	// The second time through, each key is the one predicted: the one after the key before.
	c.keys.begin()
	for _, key := range []string{`"kind": `, `"system_id": `, `"timestamp": `, `"registry_size": `, `"registry_orphans": `, `"registry_dead": `, `"dead_letters_count": `} {
		pred := c.keys.pred
		if n, _ := c.keys.match(line, bytes.Index(line, []byte(key))); n != len(key) || c.keys.last != pred {
			t.Errorf("%s: matched %d bytes in slot %d, predicted slot %d", key, n, c.keys.last, pred)
		}
	}
	for _, other := range []string{
		`{"registry_sizes": 1, "a": "................"}`,
		`{"registry_size" : 1, "a": "................"}`,
		`{"timestamp\u0000": 1, "a": "................"}`,
	} {
		if n, _ := c.keys.match([]byte(other), 1); n != 0 {
			t.Errorf("%s: matched %d bytes of a key it does not hold", other, n)
		}
	}
}
