package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenixotel/phoenix/shared/apiclient"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
)

func loginCmd() *cobra.Command {
	var api, gateway, tenant, email string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to a Phoenix API and keep the session in the user's config directory",
		Long: "Asks for the password (or reads it from stdin with --password-stdin), and stores the tokens in\n" +
			"$XDG_CONFIG_HOME/phoenix/credentials.json (mode 0600). The experiment commands use them.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tenant == "" || email == "" {
				return inputError{errors.New("--tenant and --email are required")}
			}
			if !passwordStdin {
				fmt.Fprint(cmd.ErrOrStderr(), "password: ")
			}
			pw, err := readPassword(cmd.InOrStdin())
			if err != nil {
				return err
			}
			c, err := login(cmd.Context(), api, tenant, email, pw)
			if err != nil {
				return err
			}
			c.Gateway = strings.TrimSuffix(gateway, "/")
			if err := c.save(); err != nil {
				return err
			}
			path, _ := credentialsPath()
			fmt.Fprintf(cmd.OutOrStdout(), "logged in to %s as %s (tenant %s); session kept in %s\n", c.API, email, tenant, path)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&api, "api", "http://127.0.0.1:8080", "base URL of the Phoenix API")
	f.StringVar(&gateway, "gateway", "http://127.0.0.1:8081", "base URL of the WebSocket gateway")
	f.StringVar(&tenant, "tenant", "", "tenant name")
	f.StringVar(&email, "email", "", "user email")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin without a prompt (scripts)")
	return cmd
}

// session is the logged-in client of the experiment commands.
func session() (*client, error) {
	c, err := loadCredentials()
	if err != nil {
		return nil, err
	}
	return newClient(c, true), nil
}

func experimentCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "experiment", Aliases: []string{"exp"}, Short: "Create, run and follow experiments through the API (after phoenix login)"}
	var (
		n        apiclient.NewExperiment
		duration time.Duration
		critical []string
		params   []string
		saved    [2]string // --baseline-pipeline, --candidate-pipeline: NAME or NAME@VERSION
	)
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an experiment and print its id",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := session()
			if err != nil {
				return err
			}
			n.DurationSeconds = int(duration / time.Second)
			if n.Candidate.Parameters, err = parseParams(params); err != nil {
				return inputError{err}
			}
			for i, choice := range []*store.PipelineChoice{&n.Baseline, &n.Candidate} {
				if saved[i] != "" {
					if *choice, err = savedChoice(saved[i], choice.Parameters); err != nil {
						return err
					}
				}
			}
			if n.AA {
				if cmd.Flags().Changed("candidate") || len(params) > 0 || saved[1] != "" {
					return inputError{errors.New("--aa runs the baseline against itself: leave out --candidate and --param")}
				}
				n.Candidate = store.PipelineChoice{}
			}
			if len(critical) > 0 {
				n.Spec = specJSON(experiment.Spec{CriticalProcesses: critical})
			}
			if n.FromRecommendation != "" {
				// What is not given explicitly comes from the recommendation, not from the defaults.
				if !cmd.Flags().Changed("candidate") && saved[1] == "" {
					n.Candidate = store.PipelineChoice{}
				}
				if !cmd.Flags().Changed("baseline") && saved[0] == "" {
					n.Baseline = store.PipelineChoice{}
				}
				if !cmd.Flags().Changed("duration") {
					n.DurationSeconds = 0
				}
			}
			var e store.Experiment
			if err := c.call(cmd.Context(), http.MethodPost, "/v1/experiments", n, &e); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), e.ID)
			return nil
		},
	}
	f := create.Flags()
	f.StringVar(&n.Name, "name", "", "experiment name")
	f.StringVar(&n.Description, "description", "", "what the experiment tries")
	f.StringVar(&n.Baseline.Template, "baseline", "process-baseline", "baseline pipeline template (phoenix pipeline templates)")
	f.StringVar(&n.Candidate.Template, "candidate", "process-topk", "candidate pipeline template")
	f.StringArrayVar(&params, "param", nil, "candidate template parameter NAME=VALUE (repeatable)")
	f.StringVar(&saved[0], "baseline-pipeline", "", "your own pipeline as the baseline, NAME or NAME@VERSION (phoenix pipeline list), instead of --baseline")
	f.StringVar(&saved[1], "candidate-pipeline", "", "your own pipeline as the candidate, NAME or NAME@VERSION, instead of --candidate")
	f.StringSliceVar(&critical, "critical", nil, "critical process names (RE2, matched whole), comma-separated")
	f.DurationVar(&duration, "duration", 5*time.Minute, "how long both variants run side by side (at least 1m)")
	f.StringVar(&n.FromRecommendation, "from-recommendation", "", "start the experiment that confirms a recommendation (phoenix recommend): its pipeline as the candidate, against the captured baseline")
	f.BoolVar(&n.AA, "aa", false, "an A/A run: the baseline's pipeline on both sides; its report says whether the false-alarm rate holds on this platform")

	var state string
	list := &cobra.Command{
		Use:   "list",
		Short: "List experiments",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := session()
			if err != nil {
				return err
			}
			q := url.Values{"limit": {"200"}}
			if state != "" {
				q.Set("state", state)
			}
			var page struct {
				Items []store.Experiment `json:"items"`
			}
			if err := c.call(cmd.Context(), http.MethodGet, "/v1/experiments?"+q.Encode(), nil, &page); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSTATE\tBASELINE\tCANDIDATE\tVERDICT\tCREATED")
			for _, e := range page.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Name, e.State, e.Baseline.Template,
					e.Candidate.Template, deref(e.Verdict), e.CreatedAt.Local().Format(time.DateTime))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&state, "state", "", "only experiments in this state")

	get := &cobra.Command{
		Use:   "get ID",
		Short: "Show an experiment as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := session()
			if err != nil {
				return err
			}
			var raw json.RawMessage
			if err := c.call(cmd.Context(), http.MethodGet, "/v1/experiments/"+url.PathEscape(args[0]), nil, &raw); err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), raw)
		},
	}
	cmd.AddCommand(create, list, get,
		commandCmd("start", "Start an experiment: generate, deploy and run both variants"),
		commandCmd("stop", "Cancel an experiment; its collectors are torn down"),
		commandCmd("promote", "Adopt the candidate of a completed experiment"),
		watchCmd())
	return cmd
}

// commandCmd is one of the experiment commands the API accepts asynchronously (202).
func commandCmd(name, short string) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   name + " ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := session()
			if err != nil {
				return err
			}
			var body any
			if reason != "" {
				body = map[string]string{"reason": reason}
			}
			if err := c.call(cmd.Context(), http.MethodPost, "/v1/experiments/"+url.PathEscape(args[0])+"/"+name, body, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s requested for %s; follow it with `phoenix experiment watch %s`\n", name, args[0], args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded in the audit log")
	return cmd
}

// parseParams reads NAME=VALUE pairs; numbers stay numbers.
func parseParams(kv []string) (map[string]any, error) {
	if len(kv) == 0 {
		return nil, nil
	}
	out := map[string]any{}
	for _, p := range kv {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--param %q: want NAME=VALUE", p)
		}
		var num json.Number
		if err := json.Unmarshal([]byte(v), &num); err == nil {
			out[k] = num
		} else {
			out[k] = v
		}
	}
	return out, nil
}

func printJSON(w io.Writer, raw json.RawMessage) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	_, err := fmt.Fprintln(w, string(b))
	return err
}

func deref(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}
