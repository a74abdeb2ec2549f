package config

import "fmt"

// groupWarnings reports the redis stores whose consumer_groups setting trims entries a consumer
// group has not acknowledged: Papyra's own Redis backend consumes through groups, and such an
// entry is lost to the group that was still to process it.
func groupWarnings(cfg *Config) []string {
	var out []string
	for i, s := range cfg.Stores {
		if s.Backend != BackendRedis {
			continue
		}
		label := fmt.Sprintf("stores[%d] (%s)", i, s.Name)
		switch s.ConsumerGroups {
		case ConsumerGroupsIgnore:
			out = append(out, fmt.Sprintf("%s: consumer_groups: ignore: entries a consumer group has not been delivered or has not acknowledged will be trimmed when retention drops them (each run warns and counts them); use acked (the default) to keep them", label))
		case ConsumerGroupsDelivered:
			out = append(out, fmt.Sprintf("%s: consumer_groups: delivered: entries delivered to a consumer group that it has not acknowledged will be trimmed when retention drops them (each run warns and counts them); use acked (the default) to keep them", label))
		}
	}
	return out
}
