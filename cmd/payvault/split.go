package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/payvault/payvault/internal/app"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/keys/shamir"
)

type keysSplitCmd struct {
	storeFlags
	Shares        int  `help:"Number of shares to make." required:""`
	Threshold     int  `help:"Number of shares that recover the key." required:""`
	DeleteKeyFile bool `help:"After printing the shares, overwrite and delete the key file the key came from (--master-key-file, or the data dir's master.key), so that only --unseal opens the store."`
}

// Run splits the master key into Shamir shares over GF(256) and prints one per line.
func (c *keysSplitCmd) Run(ctx context.Context) error {
	if c.Threshold < 2 || c.Threshold > c.Shares || c.Shares > 255 {
		return errors.New("need 2 <= --threshold <= --shares <= 255")
	}
	cfg, err := c.config(os.Stderr)
	if err != nil {
		return err
	}
	mk, err := app.ExistingMasterKey(cfg)
	if err != nil {
		return err
	}
	if err := checkSplitKey(ctx, cfg, mk); err != nil {
		return err
	}
	shares, err := shamir.Split(mk[:], c.Shares, c.Threshold)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "Master key split into %d shares; any %d recover it. Give each share to a different custodian:\n", c.Shares, c.Threshold)
	for _, s := range shares {
		fmt.Println(s.String())
	}
	if c.DeleteKeyFile {
		path := c.MasterKeyFile
		if path == "" {
			if !app.KeyFromDataDir(cfg) {
				return errors.New("--delete-key-file deletes the key file the key came from: the data dir's master.key or --master-key-file")
			}
			path = filepath.Join(cfg.DataDir, "master.key")
		}
		if err := wipeFile(path); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "Deleted %s. Start the server with: payvault serve --unseal\n", path)
	}
	return nil
}

// checkSplitKey refuses a master key that does not open the keysets of the store the flags
// select: custodians would hold shares that open nothing, and --delete-key-file would delete
// the file for them. With no store there yet (a key made for a database before its first node
// starts), any key is split, and stderr says it was not checked: a mistyped --data or
// --database shows. Nothing is created there. The data dir's own master.key is the store's
// key by definition.
func checkSplitKey(ctx context.Context, cfg app.Config, mk keys.MasterKey) error {
	if app.KeyFromDataDir(cfg) {
		return nil
	}
	cfg.MasterKeyValue = &mk
	cfg.ExistingStore, cfg.ReadOnly = true, true
	m, err := app.OpenTool(ctx, cfg)
	if errors.Is(err, app.ErrNoStore) {
		where, flag := "the database holds no payvault schema", "--database"
		if cfg.DatabaseURL == "" {
			where, flag = cfg.DataDir+" holds no store", "--data"
		}
		fmt.Fprintf(os.Stderr, "payvault: %s yet, so the key was not checked against a store's keysets; if you meant an existing store, check %s.\n", where, flag)
		return nil
	}
	if err != nil {
		return fmt.Errorf("no shares were made: %w", err)
	}
	return m.Close()
}

// wipeFile overwrites a file with zeros, syncs it and removes it.
func wipeFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err == nil {
		_, err = f.Write(make([]byte, st.Size()))
	}
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if err != nil {
		return err
	}
	return os.Remove(path)
}

// readShares collects Shamir shares from files, or from r one per line until the threshold
// the first share names is reached, and combines them in memory.
func readShares(files []string, r io.Reader, prompt io.Writer) (*keys.MasterKey, error) {
	var shares []shamir.Share
	add := func(line string) error {
		s, err := shamir.ParseShare(line)
		if err != nil {
			return err
		}
		shares = append(shares, s)
		return nil
	}
	if len(files) > 0 {
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			for _, line := range strings.Split(string(b), "\n") {
				if strings.TrimSpace(line) == "" {
					continue
				}
				if err := add(line); err != nil {
					return nil, fmt.Errorf("share file %s: %w", filepath.Base(f), err)
				}
			}
		}
	} else {
		sc := bufio.NewScanner(r)
		fmt.Fprintln(prompt, "Unseal: enter master key shares, one per line.")
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			if err := add(sc.Text()); err != nil {
				return nil, fmt.Errorf("share %d: %w", len(shares)+1, err)
			}
			if len(shares) >= shares[0].Threshold {
				break
			}
			fmt.Fprintf(prompt, "%d of %d shares entered.\n", len(shares), shares[0].Threshold)
		}
	}
	if len(shares) == 0 {
		return nil, errors.New("unseal: no shares given")
	}
	secret, err := shamir.Combine(shares)
	if err != nil {
		return nil, fmt.Errorf("unseal: %w", err)
	}
	if len(secret) != keys.MasterKeySize {
		return nil, errors.New("unseal: the shares do not make a master key")
	}
	var mk keys.MasterKey
	copy(mk[:], secret)
	clear(secret)
	return &mk, nil
}
