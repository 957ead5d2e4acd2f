# The local cloud: a web service with three replicas behind a load balancer, a DNS
# name for it, and an autoscaler. Runs on this machine only (loopback), supervised by
# `terrane agent`, which the first apply starts in the background.
#
#   terrane -C examples/local-cloud apply --auto-approve
#   curl http://127.0.0.1:8080/                   # through the load balancer
#   terrane -C examples/local-cloud status          # replicas, pids, health
#   terrane -C examples/local-cloud destroy --auto-approve
#   terrane -C examples/local-cloud agent stop

variable "lb_port" {
  type    = number
  default = 8080
}

variable "dns_port" {
  type    = number
  default = 5353
}

resource "local_file" "index" {
  filename             = "${path.module}/site/index.html"
  content              = "<h1>hello from terrane</h1>\n"
  file_permission      = "0644"
  directory_permission = "0755"
}

resource "local_service" "web" {
  name        = "web"
  command     = "sh"
  args        = ["-c", "exec python3 -m http.server $PORT --bind $HOST"]
  working_dir = "${path.module}/site"
  replicas    = 3
  env         = { GREETING = "hello" }

  health_check {
    http_path           = "/"
    interval            = "1s"
    timeout             = "1s"
    healthy_threshold   = 1
    unhealthy_threshold = 2
  }

  update {
    max_surge       = "25%"
    max_unavailable = "25%"
  }

  depends_on = [local_file.index]
}

resource "local_load_balancer" "web" {
  name      = "web"
  listen    = "127.0.0.1:${var.lb_port}"
  algorithm = "round_robin"
  services  = [local_service.web.id]
}

resource "local_dns_zone" "internal" {
  name   = "internal.test."
  listen = "127.0.0.1:${var.dns_port}"
}

resource "local_dns_record" "www" {
  zone_id = local_dns_zone.internal.id
  name    = "www"
  type    = "A"
  ttl     = 60
  records = ["127.0.0.1"]
}

resource "local_dns_record" "web_srv" {
  zone_id = local_dns_zone.internal.id
  name    = "_http._tcp.web"
  type    = "SRV"
  records = ["0 5 ${var.lb_port} www"]
}

resource "local_autoscaler" "web" {
  service_id   = local_service.web.id
  min_replicas = 2
  max_replicas = 6
  metric {
    type   = "requests_per_second"
    target = 200
  }
}

output "url" {
  value = "http://${local_load_balancer.web.address}/"
}

output "replicas" {
  value = local_service.web.addresses
}
