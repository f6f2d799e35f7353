package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/phoenixotel/phoenix/shared/apiclient"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/store"
)

// maxDefinitionFile bounds a pipeline file: the API takes at most 64 KiB of processors, and
// YAML is at most a few times larger than its JSON.
const maxDefinitionFile = 1 << 20

// readDefinition reads a custom pipeline (YAML or JSON: processors, each a name and a config)
// strictly: an unknown key is an error that names it.
func readDefinition(path string) (pipeline.Custom, error) {
	var def pipeline.Custom
	f, err := os.Open(path) // #nosec G304 -- the operator's own file
	if err != nil {
		return def, inputError{err}
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxDefinitionFile+1))
	if err != nil {
		return def, inputError{err}
	}
	if len(raw) > maxDefinitionFile {
		return def, inputError{fmt.Errorf("%s: larger than %d KiB", path, maxDefinitionFile>>10)}
	}
	j, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return def, inputError{fmt.Errorf("%s: not YAML or JSON: %w", path, err)}
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&def); err != nil {
		return def, inputError{fmt.Errorf("%s: want `processors:`, a list of {name, config}: %w", path, err)}
	}
	return def, nil
}

// tenantPipelineCmds are the commands on the tenant's own pipelines, through the API.
func tenantPipelineCmds() []*cobra.Command {
	var file, description string
	create := &cobra.Command{
		Use:   "create NAME --file FILE",
		Short: "Save your own pipeline (processors in YAML or JSON) as the next version of NAME, once the collector accepts it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			def, err := readDefinition(file)
			if err != nil {
				return err
			}
			c, err := session()
			if err != nil {
				return err
			}
			var p store.Pipeline
			if err := c.call(cmd.Context(), http.MethodPost, "/v1/pipelines", apiclient.NewPipeline{Name: args[0], Description: description, Definition: def}, &p); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "saved %s version %d (use it: phoenix experiment create --candidate-pipeline %s)\n", p.Name, p.Version, p.Name)
			return nil
		},
	}
	create.Flags().StringVar(&file, "file", "", "the pipeline: YAML or JSON with `processors:`, a list of {name, config}")
	create.Flags().StringVar(&description, "description", "", "what the pipeline is for")
	_ = create.MarkFlagRequired("file")

	validate := &cobra.Command{
		Use:   "validate --file FILE",
		Short: "Check your own pipeline as the API would save it: Phoenix's rules, then the collector's own validation",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			def, err := readDefinition(file)
			if err != nil {
				return err
			}
			c, err := session()
			if err != nil {
				return err
			}
			var res struct {
				Valid  bool     `json:"valid"`
				Errors []string `json:"errors"`
			}
			if err := c.call(cmd.Context(), http.MethodPost, "/v1/pipelines/validate", apiclient.ValidatePipeline{Custom: &def, Target: string(pipeline.Local)}, &res); err != nil {
				return err
			}
			for _, e := range res.Errors {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", file, e)
			}
			if !res.Valid {
				return inputError{errors.New("the pipeline is not valid")}
			}
			fmt.Fprintln(cmd.OutOrStdout(), "valid")
			return nil
		},
	}
	validate.Flags().StringVar(&file, "file", "", "the pipeline: YAML or JSON with `processors:`")
	_ = validate.MarkFlagRequired("file")

	list := &cobra.Command{
		Use:   "list",
		Short: "List your tenant's own pipelines, newest version of each",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := session()
			if err != nil {
				return err
			}
			var page struct {
				Items []store.Pipeline `json:"items"`
			}
			if err := c.call(cmd.Context(), http.MethodGet, "/v1/pipelines", nil, &page); err != nil {
				return err
			}
			if len(page.Items) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no pipelines yet: save one with phoenix pipeline create NAME --file FILE (phoenix pipeline templates lists the built-in ones)")
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tPROCESSORS\tSAVED")
			for _, p := range page.Items {
				names := make([]string, 0, len(p.Definition.Processors))
				for _, pr := range p.Definition.Processors {
					names = append(names, pr.Name)
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", p.Name, p.Version, strings.Join(names, " → "), p.CreatedAt.Local().Format("2006-01-02 15:04"))
			}
			return tw.Flush()
		},
	}

	var version int
	get := &cobra.Command{
		Use:   "get NAME [--version N]",
		Short: "Print one of your pipelines (the newest version unless --version) as YAML",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := session()
			if err != nil {
				return err
			}
			path := "/v1/pipelines/" + url.PathEscape(args[0])
			if version > 0 {
				path += "?version=" + strconv.Itoa(version)
			}
			var p store.Pipeline
			if err := c.call(cmd.Context(), http.MethodGet, path, nil, &p); err != nil {
				return err
			}
			out, err := yaml.Marshal(p.Definition)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "# %s version %d, saved %s by %s\n", p.Name, p.Version, p.CreatedAt.Local().Format("2006-01-02 15:04"), p.CreatedBy)
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	get.Flags().IntVar(&version, "version", 0, "the version (default: the newest)")
	return []*cobra.Command{create, validate, list, get}
}
