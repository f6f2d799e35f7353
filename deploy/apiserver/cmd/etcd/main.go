// Program etcd is etcd's own server command (go.etcd.io/etcd/server/v3/etcdmain) at the version
// k8s.io/kubernetes pins, so the API server the tests start stores into the etcd it is built for.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
