package config

import (
	"strings"
	"testing"
)

// TestStoresThatShareFiles: two stores that would read the same file, or a directory papyrad
// writes into that a store would read as one of its files, are a configuration error naming
// both stores; stores that only live side by side are not.
func TestStoresThatShareFiles(t *testing.T) {
	for _, tc := range []struct {
		name, stores string
		want         []string // one problem line contains them all; none for a valid config
	}{
		{"json file in a sequence",
			"  - {name: a, backend: rotating, path: /srv/x/events.ndjson, rotation: {naming: sequence}, retention: none}\n" +
				"  - {name: b, backend: json, path: /srv/x/events-0002.ndjson, retention: none}\n",
			[]string{"stores[1] (b): path: /srv/x/events-0002.ndjson is a numbered file of the set of stores[0] (a)"}},
		{"suffix set inside a sequence",
			"  - {name: a, backend: rotating, path: /srv/x/events.ndjson, rotation: {naming: sequence}, retention: none}\n" +
				"  - {name: b, backend: rotating, path: /srv/x/events-0003.ndjson, retention: none}\n",
			[]string{"stores[1] (b): path: /srv/x/events-0003.ndjson is a numbered file of the set of stores[0] (a)"}},
		{"a set listed after a file it reads",
			"  - {name: a, backend: json, path: /srv/x/events.ndjson.3, retention: none}\n" +
				"  - {name: b, backend: rotating, path: /srv/x/events.ndjson, retention: none}\n",
			[]string{"stores[1] (b): path: /srv/x/events.ndjson.3 would be a rotated segment of this store and the file of stores[0] (a)"}},
		{"a rotated segment",
			"  - {name: a, backend: rotating, path: /srv/x/events.ndjson, retention: none}\n" +
				"  - {name: b, backend: rotating, path: /srv/x/events.ndjson.1, rotation: {naming: suffix}, retention: none}\n",
			[]string{"stores[1] (b): path: /srv/x/events.ndjson.1 is a rotated segment of stores[0] (a)"}},
		{"quarantine named like a segment",
			"  - {name: a, backend: rotating, path: /srv/x/events.ndjson, quarantine_dir: /srv/x/events.ndjson.9, retention: none}\n",
			[]string{"stores[0] (a): quarantine_dir: /srv/x/events.ndjson.9 is named like a rotated segment of stores[0] (a) (/srv/x/events.ndjson)"}},
		{"another store's quarantine lands on a segment's name",
			"  - {name: a, backend: rotating, path: /srv/x/events.ndjson, retention: none}\n" +
				"  - {name: events.ndjson.4, backend: json, path: /srv/y/z.ndjson, quarantine_dir: /srv/x, retention: none}\n",
			[]string{"stores[1] (events.ndjson.4): quarantine_dir: /srv/x/events.ndjson.4 is named like a rotated segment of stores[0] (a)"}},
		{"archive on a store file",
			"  - {name: a, backend: json, path: /srv/x/events.ndjson, retention: {max_age: 1d}, archive: {dir: /srv/x/events.ndjson}}\n",
			[]string{"stores[0] (a): archive.dir: /srv/x/events.ndjson is named like the file of stores[0] (a)"}},
		{"same redis streams spelled differently",
			"  - {name: a, backend: redis, redis: {url: 'redis://cache.internal/0'}, retention: none}\n" +
				"  - {name: b, backend: redis, redis: {url: 'redis://:s3cret@Cache.internal:6379?db=0'}, retention: none}\n",
			[]string{"stores[1] (b): redis: same streams as stores[0] (a)"}},
		{"same redis socket",
			"  - {name: a, backend: redis, redis: {url: 'unix:///run/redis.sock', system_id: eu}, retention: none}\n" +
				"  - {name: b, backend: redis, redis: {url: 'unix:///run/redis.sock?db=0', system_id: eu}, retention: none}\n",
			[]string{"stores[1] (b): redis: same streams as stores[0] (a)"}},

		{"side by side", "  - {name: a, backend: json, path: /srv/x/events.ndjson, retention: none}\n" +
			"  - {name: b, backend: rotating, path: /srv/x/audit.ndjson, retention: none}\n" +
			"  - {name: c, backend: rotating, path: /srv/x/events-old.ndjson, rotation: {naming: sequence}, retention: none}\n" +
			"  - {name: d, backend: json, path: /srv/x/events-old.ndjson.bak, retention: none}\n", nil},
		{"quarantine beside the store", "  - {name: a, backend: rotating, path: /srv/x/events.ndjson, quarantine_dir: /srv/x/quarantine, retention: none}\n", nil},
		{"other databases", "  - {name: a, backend: redis, redis: {url: 'redis://h/0'}, retention: none}\n" +
			"  - {name: b, backend: redis, redis: {url: 'redis://h:6380/0'}, retention: none}\n" +
			"  - {name: c, backend: redis, redis: {url: 'redis://h/1'}, retention: none}\n" +
			"  - {name: d, backend: redis, redis: {url: 'redis://h/0', prefix: other}, retention: none}\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(doc("stores:\n"+tc.stores), nil)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("valid config refused: %v", err)
				}
				return
			}
			wantProblem(t, err, tc.want...)
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows a password: %v", err)
			}
		})
	}
}
