// Command phoenix is Phoenix's command-line tool: schema migrations, bootstrap of tenants and
// users, and `phoenix dev`, which runs the whole platform on one machine.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"knative.dev/pkg/signals"
)

func main() {
	// One signal handler for the process: the first SIGINT or SIGTERM cancels the command's
	// context so it can shut down cleanly, a second exits at once.
	if err := root().ExecuteContext(signals.NewContext()); err != nil {
		fmt.Fprintln(os.Stderr, "phoenix:", err)
		var bad inputError
		if errors.As(err, &bad) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func root() *cobra.Command {
	cmd := &cobra.Command{
		Use:           "phoenix",
		Short:         "Try cheaper OpenTelemetry Collector pipelines safely",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.AddCommand(migrateCmd(), tenantCmd(), userCmd(), devCmd(), pipelineCmd(), captureCmd(), recommendCmd(), analyzeCmd(), simulateCmd(), loadsimCmd(), loginCmd(), experimentCmd(), demoCmd(), testCmd(), validateCmd())
	return cmd
}
