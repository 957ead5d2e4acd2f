variable "out_dir" {
  type = string
}

variable "services" {
  type = list(string)
}

resource "local_file" "readme" {
  filename = "${var.out_dir}/README.txt"
  content  = templatefile("${path.module}/readme.tftpl", { services = var.services })
}

output "readme_path" {
  value = local_file.readme.filename
}
