package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestClusterRestart(t *testing.T) {
	c := StartCluster(t)
	db := NewOn(t, c.AdminURL)
	c.Stop(t)
	if _, err := pgx.Connect(context.Background(), db.OwnerURL); err == nil {
		t.Fatal("connected to a stopped server")
	}
	c.Start(t)
	conn, err := pgx.Connect(context.Background(), db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
}
