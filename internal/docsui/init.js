// Starts Swagger UI on this verifyd's contract. It is a file of its own
// because the page's Content-Security-Policy allows no inline script.
"use strict";

(async function start() {
  try {
    const res = await fetch("/openapi.json", { headers: { Accept: "application/json" } });
    if (!res.ok) {
      throw new Error("GET /openapi.json: HTTP " + res.status);
    }
    const spec = await res.json();
    // "Try it out" sends to the first server: this verifyd, not Twilio.
    spec.servers = [{ url: window.location.origin, description: "this verifyd" }];
    window.ui = SwaggerUIBundle({
      spec: spec,
      dom_id: "#swagger-ui",
      // The default posts the spec to an online validator for a badge.
      validatorUrl: null,
      // Query parameters such as ?url= must not point the page elsewhere.
      queryConfigEnabled: false,
      // Credentials from the Authorize dialog stay in memory only.
      persistAuthorization: false,
      deepLinking: true,
      displayRequestDuration: true,
    });
  } catch (err) {
    document.getElementById("swagger-ui").textContent =
      "The API description could not be loaded: " + err.message;
    throw err;
  }
})();
