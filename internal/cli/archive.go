package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/papyrad/papyrad/internal/archive"
	"github.com/papyrad/papyrad/internal/archive/s3"
	"github.com/papyrad/papyrad/internal/config"
	"github.com/papyrad/papyrad/internal/stores"
)

// archiveSource is what the archive commands read: a folder archive or an object store.
type archiveSource interface {
	List(ctx context.Context, store string) ([]archive.Entry, error)
	Open(ctx context.Context, e archive.Entry) (io.ReadCloser, error)
}

var (
	_ archiveSource = archive.Folder{}
	_ archiveSource = (*s3.Remote)(nil)
)

// archiveFlags say which store's archive: a store of a config file, or an archive described
// by flags.
type archiveFlags struct {
	configPath string
	a          adHoc
}

func (f *archiveFlags) register(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&f.configPath, "config", "", "config file (YAML); the store is the argument")
	fl.StringVar(&f.a.ArchiveDir, "archive-dir", "", "without --config: the folder archive")
	fl.StringVar(&f.a.ArchiveURL, "archive-url", "", "without --config: the S3 archive (s3://BUCKET/PREFIX)")
	fl.StringVar(&f.a.ArchiveEndpoint, "archive-endpoint", "", "with --archive-url: the S3 service's URL (default AWS S3)")
	fl.StringVar(&f.a.ArchiveRegion, "archive-region", "", "with --archive-url: the bucket's region")
	fl.StringVar(&f.a.ArchiveCredentialsFile, "archive-credentials-file", "", "with --archive-url: AWS shared credentials file (default: the standard chain)")
	fl.BoolVar(&f.a.ArchivePathStyle, "archive-path-style", false, "with --archive-url: address the bucket in the URL's path")
}

// source resolves the store named by args and returns its archive.
func (f *archiveFlags) source(c *cobra.Command, e *env, args []string) (string, archiveSource, error) {
	if len(args) != 1 {
		return "", nil, usageErrorf("name one store")
	}
	var st *config.Store
	if f.configPath != "" {
		if f.a.ArchiveDir != "" || f.a.ArchiveURL != "" {
			return "", nil, usageErrorf("--archive-dir and --archive-url describe an archive without a config file; they cannot be combined with --config")
		}
		_, sts, err := selectStores(c, e, f.configPath, args, &f.a)
		if err != nil {
			return "", nil, err
		}
		st = &sts[0]
	} else {
		if f.a.ArchiveDir == "" && f.a.ArchiveURL == "" {
			return "", nil, usageErrorf("give --config FILE, or --archive-dir or --archive-url")
		}
		fl := f.a.Flags
		fl.Backend, fl.Name, fl.NoRetention = string(config.BackendMemory), args[0], true
		cfg, err := config.FromFlags(fl, e.environ)
		if err != nil {
			return "", nil, withCode(ExitUsage, err)
		}
		printWarnings(e, cfg)
		st = &cfg.Stores[0]
	}
	a := st.Archive
	if a == nil {
		return "", nil, withCode(ExitUsage, fmt.Errorf("store %s has no archive", st.Name))
	}
	if a.Remote == nil {
		return st.Name, archive.Folder{Dir: a.Dir}, nil
	}
	r, err := s3.New(stores.RemoteConfig(a.Remote, nil))
	if err != nil {
		return "", nil, withCode(ExitConfig, fmt.Errorf("store %s: archive: %w", st.Name, err))
	}
	return st.Name, r, nil
}

func newArchiveCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "archive",
		Short: "List, verify and read a store's archive (folder or S3)",
	}
	c.AddCommand(newArchiveLsCmd(e), newArchiveVerifyCmd(e), newArchiveCatCmd(e))
	return c
}

func newArchiveLsCmd(e *env) *cobra.Command {
	var (
		f      archiveFlags
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "ls (--config FILE | --archive-dir DIR | --archive-url URL) STORE",
		Short: "List a store's published archives, oldest first",
		RunE: func(c *cobra.Command, args []string) error {
			store, src, err := f.source(c, e, args)
			if err != nil {
				return err
			}
			es, err := src.List(c.Context(), store)
			if err != nil {
				return withCode(ExitFailed, err)
			}
			if asJSON {
				if es == nil {
					es = []archive.Entry{}
				}
				return printJSON(e.stdout, es)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ARCHIVE\tBYTES\tRECORDS\tFIRST\tLAST")
			for _, en := range es {
				recs, first, last := "-", "-", "-"
				if m := en.Manifest; m != nil {
					recs, first, last = fmt.Sprint(m.Records), orDash(m.FirstTimestamp), orDash(m.LastTimestamp)
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", en.Name, en.Size, recs, first, last)
			}
			return tw.Flush()
		},
	}
	f.register(c)
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON list")
	return c
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newArchiveVerifyCmd(e *env) *cobra.Command {
	var f archiveFlags
	c := &cobra.Command{
		Use:   "verify (--config FILE | --archive-dir DIR | --archive-url URL) STORE",
		Short: "Read every archive of a store whole and check it against its manifest",
		Long: `Read each published archive of the store: every frame must decompress and every line must be a
record; where the archive has a manifest (S3), its size, SHA-256, record count, uncompressed size
and first and last timestamps must be what the manifest says. Exit 1 when an archive fails.`,
		RunE: func(c *cobra.Command, args []string) error {
			store, src, err := f.source(c, e, args)
			if err != nil {
				return err
			}
			es, err := src.List(c.Context(), store)
			if err != nil {
				return withCode(ExitFailed, err)
			}
			bad := 0
			for _, en := range es {
				if why := verifyEntry(c.Context(), src, en); why != "" {
					bad++
					fmt.Fprintf(e.stdout, "FAILED %s: %s\n", en.Name, why)
				}
			}
			fmt.Fprintf(e.stdout, "%d archives verified, %d failed\n", len(es)-bad, bad)
			if bad > 0 {
				return silentExit(ExitFailed)
			}
			return nil
		},
	}
	f.register(c)
	return c
}

// verifyEntry reads one archive and says what is wrong with it, "" when nothing is.
func verifyEntry(ctx context.Context, src archiveSource, en archive.Entry) string {
	rc, err := src.Open(ctx, en)
	if err != nil {
		return err.Error()
	}
	defer rc.Close()
	got, err := archive.Verify(ctx, en.Compress, rc)
	if err != nil {
		return err.Error()
	}
	if got.Bytes != en.Size {
		return fmt.Sprintf("read %d bytes, the listing says %d", got.Bytes, en.Size)
	}
	if en.Manifest == nil {
		if _, ok := src.(archive.Folder); !ok {
			return "no manifest"
		}
		return ""
	}
	return archive.Mismatch(got, *en.Manifest)
}

func newArchiveCatCmd(e *env) *cobra.Command {
	var (
		f    archiveFlags
		only []string
	)
	c := &cobra.Command{
		Use:   "cat (--config FILE | --archive-dir DIR | --archive-url URL) STORE",
		Short: "Write a store's archived records to stdout as NDJSON, oldest archive first",
		RunE: func(c *cobra.Command, args []string) error {
			store, src, err := f.source(c, e, args)
			if err != nil {
				return err
			}
			es, err := src.List(c.Context(), store)
			if err != nil {
				return withCode(ExitFailed, err)
			}
			w := bufio.NewWriterSize(e.stdout, 256<<10)
			for _, en := range es {
				if len(only) > 0 && !slices.Contains(only, en.Name) {
					continue
				}
				rc, err := src.Open(c.Context(), en)
				if err != nil {
					return withCode(ExitFailed, err)
				}
				err = archive.Decode(en.Compress, rc, w)
				rc.Close()
				if err != nil {
					return withCode(ExitFailed, fmt.Errorf("%s: %w", en.Name, err))
				}
			}
			return w.Flush()
		},
	}
	f.register(c)
	c.Flags().StringSliceVar(&only, "archive", nil, "only these archives (names as ls prints them)")
	return c
}
