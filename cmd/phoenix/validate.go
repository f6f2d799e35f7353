package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/phoenixotel/phoenix/cmd/phoenix/validate"
)

func validateCmd() *cobra.Command {
	var o validate.Options
	var noMigrations bool
	cmd := &cobra.Command{
		Use:   "validate all|manifests|triggers|templates|monitoring|migrations|cluster …",
		Short: "Check what a release needs: manifests, trigger wiring, templates, monitoring rules, migrations, a real cluster",
		Long: "manifests   kubectl kustomize every kustomization under deploy/; Knative's own validation of every Service\n" +
			"triggers    every consumed event type routed to each consumer, subscribers deployed, docs complete\n" +
			"templates   every pipeline template renders for both targets and passes the collector's validation\n" +
			"monitoring  promtool check rules, promtool test rules, promtool check config\n" +
			"migrations  every migration applied, rolled back and applied again on a scratch database\n" +
			"cluster     Knative's CRDs, then every kustomization applied to a real kube-apiserver (make apiserver)\n" +
			"A check whose tool is missing is reported as skipped. Exits 1 when any check fails.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && args[0] == "all" {
				args = nil
			}
			root, err := repoRoot(o.Root)
			if err != nil {
				return inputError{err}
			}
			o.Root = root
			o.Kubectl, o.Promtool = lookPath(o.Kubectl, "kubectl"), lookPath(o.Promtool, "promtool")
			if o.Collector == "" {
				o.Collector = collector()
			}
			o.APIServer, o.Etcd = sibling(o.APIServer, "PHOENIX_KUBE_APISERVER", "kube-apiserver"), sibling(o.Etcd, "PHOENIX_ETCD", "etcd")
			if !noMigrations {
				cfg, err := loadConfig()
				if err != nil {
					return err
				}
				o.MigrateURL = cfg.MigrateDatabaseURL
			}
			results, err := validate.Run(cmd.Context(), o, args...)
			if err != nil {
				return inputError{err}
			}
			if !validate.Print(cmd.OutOrStdout(), results) {
				return errors.New("validation failed")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Root, "root", "", "the Phoenix repository (default: found from the working directory)")
	f.StringVar(&o.Kubectl, "kubectl", "", "kubectl binary (default: from PATH)")
	f.StringVar(&o.Promtool, "promtool", "", "promtool binary (default: from PATH)")
	f.StringVar(&o.Collector, "collector", "", "phoenix-collector (default: PHOENIX_COLLECTOR, next to phoenix, or PATH)")
	f.BoolVar(&noMigrations, "skip-migrations", false, "do not create a scratch database")
	f.StringVar(&o.APIServer, "kube-apiserver", "", "kube-apiserver for the cluster check (default: PHOENIX_KUBE_APISERVER, next to phoenix, or PATH)")
	f.StringVar(&o.Etcd, "etcd", "", "etcd for the cluster check (default: PHOENIX_ETCD, next to phoenix, or PATH)")
	return cmd
}

// repoRoot is dir, or the nearest directory above the working directory holding deploy/ and
// triggers/.
func repoRoot(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if isDir(filepath.Join(d, "deploy")) && isDir(filepath.Join(d, "triggers")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("not inside the Phoenix repository: pass --root")
		}
	}
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// lookPath is path when set, else name from PATH, else "" (the check is skipped).
func lookPath(path, name string) string {
	if path != "" {
		return path
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return ""
}
