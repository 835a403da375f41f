// Command etcd is the etcd server used by the envtest control plane. It is
// built from source by test/tools/install.sh because prebuilt envtest
// binaries cannot be downloaded on the project's machines.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
