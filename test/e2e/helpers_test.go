package e2e

import "github.com/phoenixotel/phoenix/shared/store"

func storeOptions() store.Options { return store.Options{MaxConns: 2} }
