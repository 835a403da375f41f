package helm

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// restrictedViolations returns what in a pod's spec breaks the restricted
// Pod Security Standard (every baseline and restricted control of
// https://kubernetes.io/docs/concepts/security/pod-security-standards/, as
// k8s.io/pod-security-admission checks them at version latest), or nothing.
// That module is not a dependency of this one, so the controls are written
// out here.
func restrictedViolations(meta map[string]string, spec *corev1.PodSpec) []string {
	var v []string
	add := func(format string, args ...any) { v = append(v, fmt.Sprintf(format, args...)) }

	// Baseline: host namespaces, host ports, host paths, host process.
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		add("host namespaces: hostNetwork=%t hostPID=%t hostIPC=%t", spec.HostNetwork, spec.HostPID, spec.HostIPC)
	}
	if spec.HostUsers != nil && *spec.HostUsers {
		// Allowed by the standard, but the manager has no use for it.
		add("hostUsers is true")
	}
	// Restricted: only these volume types.
	for _, vol := range spec.Volumes {
		src := vol.VolumeSource
		switch {
		case src.ConfigMap != nil, src.CSI != nil, src.DownwardAPI != nil, src.EmptyDir != nil,
			src.Ephemeral != nil, src.PersistentVolumeClaim != nil, src.Projected != nil, src.Secret != nil:
		default:
			add("volume %s has a type the restricted profile forbids", vol.Name)
		}
	}
	// Baseline: sysctls of the safe set only.
	safeSysctls := []string{"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
		"net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time",
		"net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}
	podSC := spec.SecurityContext
	if podSC == nil {
		podSC = &corev1.PodSecurityContext{}
	}
	for _, s := range podSC.Sysctls {
		if !slices.Contains(safeSysctls, s.Name) {
			add("sysctl %s is not in the safe set", s.Name)
		}
	}
	// Baseline: AppArmor not unconfined (annotations and fields).
	for k, val := range meta {
		if strings.HasPrefix(k, "container.apparmor.security.beta.kubernetes.io/") && val != "runtime/default" && !strings.HasPrefix(val, "localhost/") {
			add("annotation %s=%s", k, val)
		}
	}
	if p := podSC.AppArmorProfile; p != nil && p.Type == corev1.AppArmorProfileTypeUnconfined {
		add("pod AppArmor profile is Unconfined")
	}
	// Baseline: SELinux types and users.
	checkSELinux := func(where string, o *corev1.SELinuxOptions) {
		if o == nil {
			return
		}
		if !slices.Contains([]string{"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}, o.Type) {
			add("%s: seLinuxOptions.type %s", where, o.Type)
		}
		if o.User != "" || o.Role != "" {
			add("%s: seLinuxOptions sets user or role", where)
		}
	}
	checkSELinux("pod", podSC.SELinuxOptions)
	// Restricted: seccomp RuntimeDefault or Localhost, on the pod or every
	// container; baseline: never Unconfined.
	podSeccomp := podSC.SeccompProfile != nil && (podSC.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault || podSC.SeccompProfile.Type == corev1.SeccompProfileTypeLocalhost)
	if podSC.SeccompProfile != nil && podSC.SeccompProfile.Type == corev1.SeccompProfileTypeUnconfined {
		add("pod seccompProfile is Unconfined")
	}
	// Restricted: runAsNonRoot on the pod or every container; runAsUser
	// never 0.
	if podSC.RunAsUser != nil && *podSC.RunAsUser == 0 {
		add("pod runAsUser is 0")
	}
	podNonRoot := podSC.RunAsNonRoot != nil && *podSC.RunAsNonRoot

	containers := slices.Concat(spec.InitContainers, spec.Containers)
	for _, e := range spec.EphemeralContainers {
		containers = append(containers, corev1.Container(e.EphemeralContainerCommon))
	}
	for _, c := range containers {
		sc := c.SecurityContext
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
		where := "container " + c.Name
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				add("%s: hostPort %d", where, p.HostPort)
			}
		}
		if sc.Privileged != nil && *sc.Privileged {
			add("%s: privileged", where)
		}
		if sc.WindowsOptions != nil && sc.WindowsOptions.HostProcess != nil && *sc.WindowsOptions.HostProcess {
			add("%s: Windows host process", where)
		}
		if sc.ProcMount != nil && *sc.ProcMount != corev1.DefaultProcMount {
			add("%s: procMount %s", where, *sc.ProcMount)
		}
		if p := sc.AppArmorProfile; p != nil && p.Type == corev1.AppArmorProfileTypeUnconfined {
			add("%s: AppArmor profile is Unconfined", where)
		}
		checkSELinux(where, sc.SELinuxOptions)
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			add("%s: allowPrivilegeEscalation must be false", where)
		}
		if sc.RunAsNonRoot != nil && !*sc.RunAsNonRoot || sc.RunAsNonRoot == nil && !podNonRoot {
			add("%s: runAsNonRoot must be true (on the container or the pod)", where)
		}
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			add("%s: runAsUser is 0", where)
		}
		switch {
		case sc.SeccompProfile == nil && !podSeccomp:
			add("%s: seccompProfile must be RuntimeDefault or Localhost (on the container or the pod)", where)
		case sc.SeccompProfile != nil && sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault && sc.SeccompProfile.Type != corev1.SeccompProfileTypeLocalhost:
			add("%s: seccompProfile is %s", where, sc.SeccompProfile.Type)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			add("%s: capabilities must drop ALL", where)
		}
		if sc.Capabilities != nil {
			for _, c := range sc.Capabilities.Add {
				if c != "NET_BIND_SERVICE" {
					add("%s: adds capability %s", where, c)
				}
			}
		}
	}
	return v
}

// TestRestrictedViolations proves that restrictedViolations catches what
// the restricted profile forbids, so that TestRender's check means
// something.
func TestRestrictedViolations(t *testing.T) {
	compliant := func() *corev1.PodSpec {
		return &corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr(true),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name: "manager",
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr(false),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
			Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.PodSpec)
		want   string
	}{
		{name: "compliant", mutate: func(*corev1.PodSpec) {}},
		{name: "host network", mutate: func(s *corev1.PodSpec) { s.HostNetwork = true }, want: "host namespaces"},
		{name: "host path", mutate: func(s *corev1.PodSpec) {
			s.Volumes = append(s.Volumes, corev1.Volume{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}})
		}, want: "volume root"},
		{name: "root allowed", mutate: func(s *corev1.PodSpec) { s.SecurityContext.RunAsNonRoot = nil }, want: "runAsNonRoot"},
		{name: "root user", mutate: func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.RunAsUser = ptr(int64(0)) }, want: "runAsUser is 0"},
		{name: "no seccomp", mutate: func(s *corev1.PodSpec) { s.SecurityContext.SeccompProfile = nil }, want: "seccompProfile"},
		{name: "escalation", mutate: func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil }, want: "allowPrivilegeEscalation"},
		{name: "capabilities kept", mutate: func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.Capabilities = nil }, want: "drop ALL"},
		{name: "capability added", mutate: func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		}, want: "NET_ADMIN"},
		{name: "privileged", mutate: func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.Privileged = ptr(true) }, want: "privileged"},
		{name: "host port", mutate: func(s *corev1.PodSpec) {
			s.Containers[0].Ports = []corev1.ContainerPort{{HostPort: 80, ContainerPort: 80}}
		}, want: "hostPort"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := compliant()
			tc.mutate(spec)
			got := strings.Join(restrictedViolations(nil, spec), "; ")
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("violations %q, want one about %q", got, tc.want)
			}
		})
	}
}
