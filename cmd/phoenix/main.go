// Command phoenix is Phoenix's command-line tool: schema migrations, bootstrap of tenants and
// users, and `phoenix dev`, which runs the whole platform on one machine.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := root().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "phoenix:", err)
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
	cmd.AddCommand(migrateCmd(), tenantCmd(), userCmd(), devCmd(), pipelineCmd())
	return cmd
}
