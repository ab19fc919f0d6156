// Starts Swagger UI on the docs page; a file of its own so the page needs no inline script.
window.addEventListener("load", function () {
  "use strict";
  var container = document.getElementById("swagger-ui-container");
  window.ui = SwaggerUIBundle({
    url: container.dataset.specUrl,
    dom_id: "#swagger-ui-container",
    // No badge from the public validator service: the page contacts this server only.
    validatorUrl: null,
  });
});
